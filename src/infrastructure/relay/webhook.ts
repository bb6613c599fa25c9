import { Webhook } from 'standardwebhooks';
import type { WebhookTarget } from '../../consumers/relay/config';
import type { RelayMessage, RelayTransport } from '../../consumers/relay/transport';

/**
 * Webhooks per the Standard Webhooks spec, signed with its reference package: an HTTPS POST of the event
 * JSON with `webhook-id` (the event id, the same on every retry, for the receiver's dedupe),
 * `webhook-timestamp` (this attempt, seconds) and `webhook-signature` (`v1,<HMAC-SHA256>`). A 2xx confirms;
 * anything else (a status, a timeout, a refused connection) fails the attempt. Retries with exponential
 * backoff and jitter and parking after `max_age` are the relay's (consumers/relay/relay-consumer.ts).
 * Redirects are not followed: a receiver that moved is a configuration to change, not a hop to take.
 */
export class WebhookTransport implements RelayTransport {
  private readonly signer: Webhook;
  connected = false;

  constructor(private readonly target: WebhookTarget) {
    this.signer = new Webhook(target.secret);
  }

  async publish(messages: readonly RelayMessage[], signal: AbortSignal): Promise<void> {
    for (const m of messages) await this.post(m, signal);
  }

  private async post(m: RelayMessage, signal: AbortSignal): Promise<void> {
    const payload = m.body.toString('utf8');
    const now = new Date();
    const signature = this.signer.sign(m.id, now, payload);
    let res: Response;
    try {
      res = await fetch(this.target.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.target.timeout)]),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'identity-relay',
          'webhook-id': m.id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': signature,
          'x-identity-topic': m.topic,
          'x-identity-type': m.headers.type ?? '',
        },
        body: payload,
      });
    } catch (e) {
      this.connected = false;
      throw new Error(`webhook ${this.target.name}: ${(e as Error).message}`);
    }
    await res.arrayBuffer().catch(() => undefined);
    this.connected = true;
    if (res.status < 200 || res.status > 299) {
      throw new Error(`webhook ${this.target.name}: the receiver answered ${res.status}`);
    }
  }

  async close(): Promise<void> {
    this.connected = false;
  }
}
