/** Answers remembered per model: enough to see its usual length, few enough to follow a change. */
const WINDOW = 32;
/** Headroom over the longest recent answer, so an answer a little longer is not cut. */
const HEADROOM = 1.5;

/**
 * How many output tokens a model's answers usually take, from its last answers. The budget guard
 * asks a call for this much (not for all of `maxOutputTokens`) when the budget cannot hold the
 * whole maximum: a crew whose budget pays for ten 15-token answers should not be refused because
 * one 1,024-token answer would not fit. Only answers that were not cut short by a lowered cap are
 * remembered — a cut answer says nothing about how long it wanted to be.
 */
export class OutputEstimate {
  readonly #recent = new Map<string, number[]>();
  /** The estimate per model, worked out when an answer is recorded (it is read far more often). */
  readonly #expected = new Map<string, number>();

  /** Remembers one answer of `model`: `outputTokens` written under a cap of `cap` that was lowered from `asked`. */
  record(model: string, outputTokens: number, cap: number, asked: number): void {
    if (cap < asked && outputTokens >= cap) return;
    let recent = this.#recent.get(model);
    if (recent === undefined) this.#recent.set(model, (recent = []));
    recent.push(outputTokens);
    if (recent.length > WINDOW) recent.shift();
    this.#expected.set(model, Math.max(1, Math.ceil(Math.max(...recent) * HEADROOM)));
  }

  /** Output tokens to ask for: the longest of the model's recent answers plus headroom; undefined before its first answer. */
  expected(model: string): number | undefined {
    return this.#expected.get(model);
  }
}
