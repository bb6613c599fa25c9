/**
 * Collects what is added during one turn of the event loop and hands it over, all at once, at the end of
 * that turn (`setImmediate`): requests made together (by one caller, or by many woken by the same I/O) can
 * then go to the database as one statement.
 */
export class SameTurnBatch<T> {
  private items: T[] = [];

  constructor(private readonly flush: (items: T[]) => void) {}

  add(item: T): void {
    if (this.items.length === 0) {
      setImmediate(() => {
        const items = this.items;
        this.items = [];
        this.flush(items);
      });
    }
    this.items.push(item);
  }
}
