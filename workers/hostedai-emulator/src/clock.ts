// Emulated time: a line through an anchor point with slope time_scale. Changing the scale
// re-anchors at "now", so emulated time never jumps — it only starts running at a new speed.

export interface ClockAnchor {
  /** Real (wall-clock) epoch ms at the anchor. */
  readonly realMs: number;
  /** Emulated epoch ms at the anchor. */
  readonly emulatedMs: number;
  /** Emulated ms per real ms. */
  readonly timeScale: number;
}

export function startClock(realNowMs: number, timeScale: number): ClockAnchor {
  return { realMs: realNowMs, emulatedMs: realNowMs, timeScale };
}

export function emulatedAt(clock: ClockAnchor, realMs: number): number {
  return clock.emulatedMs + (realMs - clock.realMs) * clock.timeScale;
}

/** The real instant at which the emulated clock reads `emulatedMs` (used to set alarms). */
export function realAt(clock: ClockAnchor, emulatedMs: number): number {
  return clock.realMs + (emulatedMs - clock.emulatedMs) / clock.timeScale;
}

export function rescaleClock(clock: ClockAnchor, realNowMs: number, timeScale: number): ClockAnchor {
  return { realMs: realNowMs, emulatedMs: emulatedAt(clock, realNowMs), timeScale };
}
