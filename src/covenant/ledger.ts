import { budgetDay, checkBudget, holdCostUsd, type BudgetRefusal, type SpendState } from "../policy";
import type { CovenantContract } from "../schema";
import type { CovenantStore, StrikeRecord } from "./storage";
import type { StoredLease } from "./storage";

/**
 * The covenant's money: settled spend (SQLite), what live leases have cost so far, and what
 * running strikes have reserved. The object is the only writer, so reserve-then-settle cannot
 * overspend under any concurrency.
 */
export class Ledger {
  private readonly reservations = new Map<string, number>();
  private day = { start: 0, resetsAt: 0 };
  private spentToday = 0;

  constructor(
    private readonly store: CovenantStore,
    private readonly liveLeases: () => readonly StoredLease[],
  ) {}

  get reserved(): number {
    let sum = 0;
    for (const usd of this.reservations.values()) sum += usd;
    return sum;
  }

  spend(now: number): SpendState {
    if (now >= this.day.resetsAt) {
      this.day = budgetDay(now);
      this.spentToday = this.store.spentBetween(this.day.start, this.day.resetsAt);
    }
    let accrued = 0;
    for (const l of this.liveLeases()) accrued += Math.max(0, holdCostUsd(l.pricePerHour, now - l.createdAt) - l.attributedUsd);
    return { spentToday: this.spentToday, accrued, reserved: this.reserved };
  }

  check(contract: CovenantContract, estimateUsd: number): BudgetRefusal | null {
    const now = Date.now();
    return checkBudget(contract, this.spend(now), estimateUsd, now);
  }

  reserve(strikeId: string, usd: number): void {
    this.reservations.set(strikeId, usd);
  }

  /** Lets a reservation go without recording anything (a fused plan's, once its fragments are settled). */
  release(reservationId: string): void {
    this.reservations.delete(reservationId);
  }

  /** Records the strike and turns its reservation into what it actually cost. */
  settle(strikeId: string, record: StrikeRecord): void {
    this.reservations.delete(strikeId);
    this.store.recordStrike(record);
    if (record.created_at >= this.day.start && record.created_at < this.day.resetsAt) this.spentToday += record.cost_usd;
  }

  /** Lease charges are booked by the lease manager; keep today's total in step. */
  refresh(): void {
    this.day = { start: 0, resetsAt: 0 };
  }
}
