/** Round axis ticks, shared by the terminal chart and the bench's SVG charts. */

/** About `n` round tick values (1, 2, 2.5 or 5 times a power of ten) covering [min, max]. */
export function niceTicks(min: number, max: number, n: number): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max <= min) return [min];
  const raw = (max - min) / Math.max(1, n);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  // Ranges too narrow (or too wide) for floating point to step through: just the ends.
  if (!(step > 0 && Number.isFinite(step)) || (max - min) / step > 1000 || min + step === min) return [min, max];
  const ticks: number[] = [];
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  // Bounded: (max - min) / step is at most 1000 (checked above).
  for (let k = first; k <= last; k++) {
    const t = Number((k * step).toPrecision(12));
    // Near the largest doubles a rounded tick can overflow.
    if (Number.isFinite(t)) ticks.push(t);
  }
  return ticks;
}

/**
 * The smallest round number (as {@link niceTicks} steps go) at or above `max`; 1 when `max`
 * is not positive; `max` itself when the next round number is past the largest double.
 */
export function niceMax(max: number, n: number): number {
  if (!(max > 1e-9) || !Number.isFinite(max)) return 1;
  const ticks = niceTicks(0, max, n);
  const last = ticks[ticks.length - 1]!;
  if (last >= max) return last;
  const next = last + (ticks.length > 1 ? ticks[1]! - ticks[0]! : last);
  return Number.isFinite(next) ? next : max;
}

/** A tick value as a short label (at most 10 characters): `0.25`, `80`, `12.5k`, `1.25e+9`. */
export function tickLabel(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6 || (abs !== 0 && abs < 1e-3)) {
    // Mantissa and exponent apart: rounding the number itself could overflow.
    const [mantissa, exponent] = value.toExponential(2).split("e");
    return `${Number(mantissa)}e${exponent}`;
  }
  if (abs >= 10_000) return `${Number((value / 1000).toPrecision(3))}k`;
  return String(Number(value.toPrecision(4)));
}
