import { Client } from "./client";
import * as util from "../util/index";

export const MAX_RETRIES = 3;

export interface Submitter {
  submit(order: Order): Promise<Receipt>;
  name: string;
}

export type OrderId = string;

export enum State {
  Open,
  Closed,
}

export abstract class Base {
  abstract describe(): string;
}

export class Order extends Base implements Submitter {
  private lines: Map<string, Line> = new Map();
  name = "order";

  constructor(public id: OrderId) {
    super();
  }

  describe(): string {
    return `order ${this.id}`;
  }

  async submit(order: Order): Promise<Receipt> {
    return withRetries(() => new Client().post(order.id));
  }
}

export function withRetries<T>(fn: () => T, retries: number = MAX_RETRIES): T {
  return fn();
}

namespace Internal {
  export function reset(): void {}
}
