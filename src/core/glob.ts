/** A pattern where `*` matches any run of characters (model names in prices and mock scripts), as an anchored RegExp. */
export function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}
