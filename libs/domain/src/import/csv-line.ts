/**
 * Splits one CSV line (RFC 4180: comma separator, fields optionally in double quotes, "" for a quote).
 * Returns null when a quoted field is not closed: the import reports it as a malformed line.
 * Lines are split by the caller; a quoted field spanning lines is not supported (no field here needs one).
 */
export function splitCsvLine(line: string): string[] | null {
  if (!line.includes('"')) return line.split(',');
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      if (i < line.length && line[i] !== ',') return null;
      fields.push(value);
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      fields.push(line.slice(i, end));
      i = end;
    }
    if (i >= line.length) return fields;
    i++; // skip the comma
    if (i === line.length) {
      fields.push('');
      return fields;
    }
  }
}
