/**
 * The covenant object as deployed: CovenantObject with a span around each call that does upstream
 * work (strikes, streamed strikes, retirement, reconciliation, the alarm), and the spans exported
 * when the call ends, inside `ctx.waitUntil`. The context each call runs in also carries the
 * object's `upstreamSink`, so a failed upstream call made for it is counted in its metrics.
 * Kept apart from the object so that the object's code stays about covenants; wrangler binds this
 * class under the name `CovenantObject`.
 */
import { CovenantObject } from "../covenant";
import type { Env } from "../env";
import { traceCovenantStream, traceCovenantStrike, traceCovenantWork } from "./strike-spans";
import { configureTracing, flushAfter } from "./tracing";
import { configureLogging } from "./log";

export class TracedCovenantObject extends CovenantObject {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    configureTracing(env);
    configureLogging(env);
  }

  override strike(...args: Parameters<CovenantObject["strike"]>): ReturnType<CovenantObject["strike"]> {
    return this.exportAfter(traceCovenantStrike(args[0], () => super.strike(...args), this.upstreamSink));
  }

  override strikeStream(...args: Parameters<CovenantObject["strikeStream"]>): ReturnType<CovenantObject["strikeStream"]> {
    // The span ends with the stream, and is exported then.
    return traceCovenantStream(args[0], () => super.strikeStream(...args), () => flushAfter(this.ctx), this.upstreamSink);
  }

  override retire(...args: Parameters<CovenantObject["retire"]>): ReturnType<CovenantObject["retire"]> {
    return this.exportAfter(traceCovenantWork("covenant retire", this.objectName, () => super.retire(...args), this.upstreamSink));
  }

  override reconcile(...args: Parameters<CovenantObject["reconcile"]>): ReturnType<CovenantObject["reconcile"]> {
    return this.exportAfter(traceCovenantWork("covenant reconcile", this.objectName, () => super.reconcile(...args), this.upstreamSink));
  }

  override alarm(...args: Parameters<CovenantObject["alarm"]>): ReturnType<CovenantObject["alarm"]> {
    return this.exportAfter(traceCovenantWork("covenant alarm", this.objectName, () => super.alarm(...args), this.upstreamSink));
  }

  /** `<tenant>:<covenant id>`, as the edge named this object (see covenantObjectName). */
  private get objectName(): string | undefined {
    return this.ctx.id.name;
  }

  private exportAfter<T>(work: Promise<T>): Promise<T> {
    return work.finally(() => flushAfter(this.ctx));
  }
}
