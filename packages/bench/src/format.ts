/** A line of a report table: the figure's label and its value with the unit. */
export type Row = [label: string, value: string];

/** Returns `value` with `digits` decimals, or `n/a` when it is null or not finite. */
export function fixed(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

/** Returns the rows as lines with the values in one column. */
export function table(rows: Row[]): string[] {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
}
