/**
 * A server URL as it may be shown in a message or a log: its password, in the user part or as a
 * `password=` parameter, becomes `***` (`redis://:***@127.0.0.1:6379/5`,
 * `postgres://user:***@host/db`). Text that is not a valid URL is masked too — the messages that
 * show it are mostly about URLs that are wrong — by the same rule on its user part.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return redactText(url);
  }
  // The URL API would percent-encode `*` in the user part; the mask is put in as text.
  const mask = "__af_password__";
  if (parsed.password !== "") parsed.password = mask;
  for (const name of ["password", "sslpassword"]) if (parsed.searchParams.has(name)) parsed.searchParams.set(name, mask);
  const shown = parsed.toString().replaceAll(mask, "***");
  // No host, or an `@` after it: the parser read part of the userinfo as a host or a path
  // (`postgres:/app:pw@db`, `postgres://app:1234/x@db` — host app, port 1234), where a password may still be.
  return parsed.host === "" || `${parsed.pathname}${parsed.search}${parsed.hash}`.includes("@") ? redactText(shown) : shown;
}

/**
 * The same for text that does not parse as a URL (`postgres:/app:pw@db`, `user:pw@host:5432`,
 * `host:6379?password=pw`): wrong URLs are the ones error messages show, so the rule is loose on
 * purpose — whatever follows the first `:` of the part before the last `@` (after a `scheme:/`
 * or `scheme://`, if there is one) is a password, and so is any `password=` value.
 */
function redactText(text: string): string {
  const masked = text.replace(/(password=)[^&\s]*/gi, "$1***");
  const at = masked.lastIndexOf("@");
  if (at < 0) return masked;
  const scheme = /^[a-z][a-z0-9+.-]*:\/{1,2}/i.exec(masked)?.[0] ?? "";
  const userinfo = masked.slice(scheme.length, at);
  const colon = userinfo.indexOf(":");
  return colon < 0 ? masked : `${scheme}${userinfo.slice(0, colon + 1)}***${masked.slice(at)}`;
}
