/**
 * Codes about an HTTP request as sent — its body, its headers, its credentials — never about
 * the factory's state. Only the API layer raises them, so they are not FactoryError codes: the
 * core and the services cannot construct one. On the wire they look like every other error.
 */
export const HTTP_ERROR_CODES = [
  /** The body is not valid JSON (400). */
  "MALFORMED_JSON",
  /** The body is over the server's limit (413). */
  "PAYLOAD_TOO_LARGE",
  /** The body is not application/json (415). */
  "UNSUPPORTED_MEDIA_TYPE",
  /** A missing or wrong API key (401). */
  "UNAUTHORIZED",
  /** The `Host` is not one of the server's names: DNS rebinding (403). */
  "FORBIDDEN_HOST",
  /** Another site's page that the operator did not allow (403). */
  "FORBIDDEN_ORIGIN",
] as const;

/** A code only the HTTP layer raises. */
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

/** A request refused by the HTTP layer itself; its wire shape is a FactoryError's: `{ code, message, field?, details? }`. */
export class HttpError extends Error {
  readonly code: HttpErrorCode;
  readonly field: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: HttpErrorCode, message: string, options: { field?: string; details?: Record<string, unknown> } = {}) {
    super(message);
    this.name = "HttpError";
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }

  /** The wire shape, key for key as FactoryError's, so a client cannot tell which layer refused. */
  toJSON(): { code: HttpErrorCode; message: string; field?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}
