/** The server status as text, for the status bar and the status message. Pure. */

import type { StatusResult } from './protocol';

/** A short index state from the status result, whatever shape the server gives it. */
export function indexState(status: StatusResult): string {
  const index = status.index;
  if (typeof index === 'string') {
    return index;
  }
  if (index && typeof index === 'object') {
    const state = typeof index.state === 'string' ? index.state : '';
    const files = typeof index.files === 'number' ? `${index.files} files` : '';
    // While the symbol index is built, how far it has got.
    const parsed =
      typeof index.parsed === 'number' && typeof index.to_parse === 'number' && index.to_parse > 0
        ? `${index.parsed}/${index.to_parse} parsed`
        : '';
    return [state, files, parsed].filter(Boolean).join(', ');
  }
  return '';
}

/** States in which an index stays until something happens: no need to ask again. */
const SETTLED = new Set(['', 'ready', 'failed', 'not opened', 'closed']);

/**
 * Whether the index has finished (ready or failed), or waits for a first question about its folder
 * ("not opened"), so there is no need to ask again.
 */
export function indexSettled(status: StatusResult): boolean {
  const index = status.index;
  const state = typeof index === 'string' ? index : typeof index?.state === 'string' ? index.state : '';
  return SETTLED.has(state);
}

/**
 * The status result as readable lines, nested objects flattened with dotted keys; a list of
 * objects (the workspace folders) numbered from 1.
 */
export function describeStatus(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value) && value.some((v) => v !== null && typeof v === 'object')) {
    return value.flatMap((v, i) => describeStatus(v, `${prefix}.${i + 1}`));
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [`${prefix}: ${Array.isArray(value) ? value.join(', ') : String(value)}`];
  }
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
    describeStatus(v, prefix ? `${prefix}.${k}` : k),
  );
}
