export function writeLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Writes rows under a header, each column as wide as its widest cell. */
export function writeTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  for (const row of [header, ...rows]) {
    const cells = row.map((cell, column) =>
      column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0),
    );
    writeLine(cells.join('  ').trimEnd());
  }
}
