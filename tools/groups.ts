// The tool groups, in a module of their own with no imports, so the CLI can validate
// `--toolsets` without loading the SDK and zod just to print help.

/** Tool groups; `--toolsets` picks among them. Prime adds the `prime` and `graph` tools. */
export const TOOL_GROUPS = ['events', 'prime', 'graph'] as const;
export type ToolGroup = (typeof TOOL_GROUPS)[number];
