/**
 * A bare Kafka protocol client for hand-built requests in tests: sends request frames (header v1) and
 * reads the response frames by correlation id. No retries, no version negotiation.
 */
import net from 'node:net';
import { Reader, Writer } from './wire';

export class RawKafkaClient {
  private buffered = Buffer.alloc(0);
  private nextCorrelationId = 1;
  private readonly waiting = new Map<number, (body: Buffer) => void>();
  private closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const size = this.buffered.readInt32BE(0);
        const frame = this.buffered.subarray(4, 4 + size);
        this.buffered = this.buffered.subarray(4 + size);
        const id = frame.readInt32BE(0);
        this.waiting.get(id)?.(frame.subarray(4));
        this.waiting.delete(id);
      }
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static connect(broker: string): Promise<RawKafkaClient> {
    const [host, port] = broker.split(':');
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), host, () => resolve(new RawKafkaClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends one request and resolves with a Reader over the response body (after the correlation id). */
  request(apiKey: number, apiVersion: number, body: Buffer | Writer): Promise<Reader> {
    const correlationId = this.nextCorrelationId++;
    const payload = new Writer()
      .int16(apiKey)
      .int16(apiVersion)
      .int32(correlationId)
      .nullableString('raw-test-client')
      .raw(Buffer.isBuffer(body) ? body : body.toBuffer())
      .toBuffer();
    return new Promise((resolve, reject) => {
      this.waiting.set(correlationId, (b) => resolve(new Reader(b)));
      this.closed.then(() => reject(new Error(`connection closed before the answer to ${correlationId}`)));
      this.socket.write(new Writer().int32(payload.length).raw(payload).toBuffer());
    });
  }

  /** Resolves when the server has closed the connection. */
  whenClosed(): Promise<void> {
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
