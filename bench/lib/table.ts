/** Result tables, rendered as Markdown: readable in a terminal and pasted as-is into RESULTS.md. */
export interface Table {
  title: string;
  columns: readonly string[];
  rows: readonly (readonly string[])[];
  /** Short remarks printed under the table. */
  notes?: readonly string[];
}

export function renderTable(table: Table): string {
  const widths = table.columns.map((column, index) => Math.max(column.length, ...table.rows.map((row) => (row[index] ?? "").length)));
  // The first column holds labels; every other column holds numbers, so it is right-aligned.
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, index) => (index === 0 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!))).join(" | ")} |`;
  const rule = `| ${widths.map((width, index) => (index === 0 ? "-".repeat(width) : `${"-".repeat(width - 1)}:`)).join(" | ")} |`;
  const parts = [`**${table.title}**`, "", line(table.columns), rule, ...table.rows.map(line)];
  if (table.notes?.length) parts.push("", ...table.notes.map((note) => `- ${note}`));
  return parts.join("\n");
}

/** Milliseconds with a precision that suits their magnitude. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** `a / b` as `1.23×`. */
export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "–";
  return `${(a / b).toFixed(2)}×`;
}

export function count(value: number): string {
  return value.toLocaleString("en-US");
}
