/**
 * The last `keep` values of a measurement (lease times, detection times …), for the percentiles
 * `/ready` and the benchmarks show. Old values fall off as new ones come.
 */
export class Samples {
  readonly #values: number[] = [];
  readonly #keep: number;

  constructor(keep: number) {
    this.#keep = keep;
  }

  add(value: number): void {
    this.#values.push(value);
    if (this.#values.length > this.#keep) this.#values.shift();
  }

  get count(): number {
    return this.#values.length;
  }

  /** Count, median and 99th percentile, from one sort. */
  summary(): { samples: number; p50: number; p99: number } {
    const sorted = [...this.#values].sort((a, b) => a - b);
    const at = (q: number): number => (sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number));
    return { samples: sorted.length, p50: at(0.5), p99: at(0.99) };
  }

  /** The value at fraction `q` of the sorted samples (0.5: the median); 0 when there are none. */
  quantile(q: number): number {
    if (this.#values.length === 0) return 0;
    const sorted = [...this.#values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  }
}
