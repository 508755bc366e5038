import { render } from "react-dom";
import { Client as HttpClient } from "./client";

export const MAX_RETRIES = 3;

export class Order extends Base {
  count = 0;

  constructor(id) {
    super();
    this.id = id;
  }

  submit(client) {
    return withRetries(() => client.post(this.id));
  }
}

/**
 * Call `fn`, trying again on failure.
 *
 * @param fn what to call
 */
export function withRetries(fn, retries = MAX_RETRIES) {
  return fn();
}

const { Store } = require("../store");

const place = (order) => new Order(order).submit(new HttpClient());

export const App = () => <OrderView order={place} />;

module.exports.helper = function () {};
