/** Piscina worker for the dispatch peer benchmark: returns its input, like the factory's built-in `echo` handler. */
export default function echo(input) {
  return input;
}
