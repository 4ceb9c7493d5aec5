import { DateTime } from 'luxon';

/**
 * Nights as the observatory names them. A night is the local date 12 hours before: an exposure
 * taken at 02:00 on the 22nd belongs to night 20261121, as does one at 19:00 on the 21st.
 */
const HALF_DAY_MS = 12 * 3600_000;

function localDate(ms: number, timezone: string): DateTime {
  return DateTime.fromMillis(ms, { zone: timezone });
}

/** The night (YYYYMMDD) in progress at `ms`. */
export function nightOf(ms: number, timezone: string): string {
  return localDate(ms - HALF_DAY_MS, timezone).toFormat('yyyyLLdd');
}

/**
 * "Yesterday's night" for catch-up and archive: the local calendar date before today's. At
 * 14:00 UTC (07:00 in Arizona) it is the night that has just ended.
 */
export function yesterdayOf(ms: number, timezone: string): string {
  return localDate(ms, timezone).minus({ days: 1 }).toFormat('yyyyLLdd');
}

/** Whether the UTC hour of `ms` is at or after `hour`. */
export function isAfterUtcHour(ms: number, hour: number): boolean {
  return new Date(ms).getUTCHours() >= hour;
}
