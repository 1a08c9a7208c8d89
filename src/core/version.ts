/** The program version written into snapshots and printed by `coffer version`. */
export const VERSION = "0.1.0";
export const PROGRAM = `coffer ${VERSION}`;
