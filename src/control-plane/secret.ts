import {inspect} from 'node:util';

/**
 * A credential that cannot leak by accident: printing, interpolating, JSON-serialising or
 * inspecting it gives `[secret]`. Only the HTTP layer calls `reveal()`, to build the header.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[secret]';
  }

  toJSON(): string {
    return '[secret]';
  }

  [inspect.custom](): string {
    return '[secret]';
  }
}
