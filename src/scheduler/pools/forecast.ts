/**
 * Holt's linear smoothing over a series of per-interval counts: a level and a trend, so a
 * rising arrival rate is anticipated rather than followed. `forecast(h)` is the expected count
 * `h` intervals ahead.
 */
export class ArrivalForecast {
  readonly #alpha: number;
  readonly #beta: number;
  #level: number | undefined;
  #trend = 0;

  constructor(options: { alpha?: number; beta?: number } = {}) {
    this.#alpha = options.alpha ?? 0.5;
    this.#beta = options.beta ?? 0.3;
  }

  observe(count: number): void {
    if (this.#level === undefined) {
      this.#level = count;
      return;
    }
    const previous = this.#level;
    this.#level = this.#alpha * count + (1 - this.#alpha) * (previous + this.#trend);
    this.#trend = this.#beta * (this.#level - previous) + (1 - this.#beta) * this.#trend;
  }

  forecast(horizon = 1): number {
    return Math.max(0, (this.#level ?? 0) + horizon * this.#trend);
  }

  get level(): number {
    return this.#level ?? 0;
  }
}
