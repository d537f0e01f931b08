// The device's decision core: given its state, one request's needs and the clock, where does the
// request's generation slot fall and what is the device's state afterwards. Pure, so the Durable
// Object only loads, calls this, persists and answers.
import { generationTimings } from "./latency";

export interface DeviceState {
  loadedModel: string;
  /** Epoch ms at which the last reserved generation finishes; the device is idle after it. */
  busyUntil: number;
  requestsTotal: number;
  promptTokensTotal: number;
  completionTokensTotal: number;
  latencyScale: number;
}

export interface SlotNeed {
  model: string;
  promptTokens: number;
  completionTokens: number;
}

/** One reserved generation on the device, in epoch ms. */
export interface DeviceSlot {
  /** 1-based position of this request in the device's history since the last reset. */
  sequence: number;
  model: string;
  requestedAt: number;
  /** When the device turns to this request: after every earlier request has finished. */
  start: number;
  queuedMs: number;
  loadMs: number;
  firstTokenAt: number;
  tokenIntervalMs: number;
  /** When the last token is produced. */
  end: number;
}

export function initialDeviceState(startupModel: string, latencyScale: number): DeviceState {
  return {
    loadedModel: startupModel,
    busyUntil: 0,
    requestsTotal: 0,
    promptTokensTotal: 0,
    completionTokensTotal: 0,
    latencyScale,
  };
}

export function planSlot(
  state: DeviceState,
  need: SlotNeed,
  now: number,
): { slot: DeviceSlot; next: DeviceState } {
  const start = Math.max(now, state.busyUntil);
  const timings = generationTimings({
    model: need.model,
    promptTokens: need.promptTokens,
    completionTokens: need.completionTokens,
    needsLoad: need.model !== state.loadedModel,
    scale: state.latencyScale,
  });
  const firstTokenAt = start + timings.loadMs + timings.firstTokenMs;
  const end = start + timings.totalMs;
  const slot: DeviceSlot = {
    sequence: state.requestsTotal + 1,
    model: need.model,
    requestedAt: now,
    start,
    queuedMs: start - now,
    loadMs: timings.loadMs,
    firstTokenAt,
    tokenIntervalMs: timings.tokenIntervalMs,
    end,
  };
  const next: DeviceState = {
    ...state,
    // The model stays resident after use, so only a switch pays the load delay.
    loadedModel: need.model,
    busyUntil: end,
    requestsTotal: state.requestsTotal + 1,
    promptTokensTotal: state.promptTokensTotal + need.promptTokens,
    completionTokensTotal: state.completionTokensTotal + need.completionTokens,
  };
  return { slot, next };
}

/** When the i-th generated token (0-based) of a slot becomes available. */
export function tokenDueAt(slot: DeviceSlot, index: number): number {
  return slot.firstTokenAt + index * slot.tokenIntervalMs;
}
