/** A token bucket: `ratePerSec` tokens a second, at most `burst` saved up. */
export class TokenBucket {
  #ratePerSec: number;
  #burst: number;
  #tokens: number;
  #last: number;

  constructor(ratePerSec: number, burst = Math.max(1, ratePerSec), now = Date.now()) {
    this.#ratePerSec = ratePerSec;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  /** Follows a changed rate (a new profile version) without losing saved tokens. */
  setRate(ratePerSec: number): void {
    this.#ratePerSec = ratePerSec;
    this.#burst = Math.max(1, ratePerSec);
  }

  tryTake(now = Date.now()): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there. */
  msUntilToken(now = Date.now()): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.#ratePerSec) * 1000);
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#ratePerSec);
    this.#last = now;
  }
}
