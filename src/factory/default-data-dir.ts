/** Where the factory keeps its store when no `dataDir` is given (relative to the working directory). A module of its own so the CLI can show it without loading the factory. */
export const DEFAULT_DATA_DIR = ".agent-factory";
