// Worker-side: faults that hit exactly the requests a test means them for. The emulator decides
// each random fault with the next number of a sequence that is a pure function of its SEED and a
// counter restarted whenever faults are set (workers/hostedai-emulator/README.md, Faults), so a
// rate can be chosen that the first request after some known ones falls under and the next does
// not: "fail once, then pass", with no race against a clear.
import { randomFor } from "../../workers/hostedai-emulator/src/random";
import { auxiliaryWorkers } from "./workers";

/** The n-th draw (from 1) of the emulator's fault sequence after faults are set. */
function draw(n: number): number {
  const seed = auxiliaryWorkers()[0]!.bindings.SEED;
  return randomFor(seed, "fault", n)();
}

/**
 * A rate and a number of draws to spend first such that, once those are spent, the next request
 * matching the rule meets the fault and the one after it does not. Spend them with requests that
 * match the rule (and only it) before the request the fault is meant for.
 */
export function failOnceThenPass(): { spend: number; rate: number } {
  for (let spend = 0; spend < 100; spend++) {
    const hit = draw(spend + 1);
    const pass = draw(spend + 2);
    if (hit < pass) return { spend, rate: (hit + pass) / 2 };
  }
  throw new Error("no fail-once-then-pass pattern in the first 100 draws");
}
