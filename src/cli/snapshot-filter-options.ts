import type { SnapshotFilter } from "../snapshot/snapshot-store.js";
import { collect, type OptionSpec } from "./command.js";

/** The filter options every command that selects snapshots shares (restic's names). */
export const snapshotFilterOptions: OptionSpec[] = [
  { flags: "-H, --host <host>", description: "only snapshots of this host (repeatable)", parse: collect, default: [] },
  { flags: "--tag <tag[,tag]>", description: "only snapshots with these tags (repeatable: any of the groups)", parse: collect, default: [] },
  { flags: "--path <path>", description: "only snapshots that include this path (repeatable)", parse: collect, default: [] },
  { flags: "--kind <kind>", description: "only snapshots of this kind: manual, scheduled, pre-change, revision, safety, import, copy (repeatable)", parse: collect, default: [] },
];

export interface SnapshotFilterFlags {
  host: string[];
  tag: string[];
  path: string[];
  kind: string[];
}

export function snapshotFilterFrom(o: SnapshotFilterFlags): SnapshotFilter {
  return { hosts: o.host, tags: o.tag, paths: o.path, kinds: o.kind };
}
