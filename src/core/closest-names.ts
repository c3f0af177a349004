import { distance } from "fastest-levenshtein";

/**
 * The known names closest to one that matched nothing, best first: those equal but for case,
 * then those within a small edit distance (2, or a third of the name's length if longer).
 * Empty when nothing is close.
 */
export function closestNames(wanted: string, known: Iterable<string>, max = 3): string[] {
  const lower = wanted.toLowerCase();
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  const scored: Array<{ name: string; score: number }> = [];
  for (const name of new Set(known)) {
    if (name === wanted) continue;
    // Case-insensitive equality ranks before any edit (-1); otherwise the edit distance, case ignored.
    const score = name.toLowerCase() === lower ? -1 : distance(name.toLowerCase(), lower);
    if (score <= limit) scored.push({ name, score });
  }
  scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name));
  return scored.slice(0, max).map((s) => s.name);
}
