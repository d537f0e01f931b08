import type { CovenantContract } from "../schema";

const DAY_MS = 86_400_000;

/** Daily budgets run from 00:00 UTC to the next. */
export function budgetDay(now: number): { start: number; resetsAt: number } {
  const start = Math.floor(now / DAY_MS) * DAY_MS;
  return { start, resetsAt: start + DAY_MS };
}

export interface SpendState {
  /** Settled spend since the start of the budget day. */
  spentToday: number;
  /** Cost of live leases not yet attributed to strikes (their idle time so far). */
  accrued: number;
  /** Maximum expected cost of strikes admitted but not yet settled. */
  reserved: number;
}

export interface BudgetRefusal {
  type: "budget_exhausted" | "strike_cost_limit";
  budget: "budget_usd_per_day" | "max_usd_per_strike";
  limit_usd: number;
  spent_usd: number;
  requested_usd: number;
  resets_at: string | null;
  message: string;
}

const usd = (n: number) => `$${n.toFixed(4)}`;

/**
 * Whether a strike whose maximum expected cost is `estimateUsd` may be dispatched. The covenant
 * object is the only writer of its spend, so this check plus a reservation cannot overspend
 * however many strikes arrive at once.
 */
export function checkBudget(contract: CovenantContract, spend: SpendState, estimateUsd: number, now: number): BudgetRefusal | null {
  const perStrike = contract.cost.max_usd_per_strike;
  if (perStrike !== undefined && estimateUsd > perStrike) {
    return {
      type: "strike_cost_limit",
      budget: "max_usd_per_strike",
      limit_usd: perStrike,
      spent_usd: 0,
      requested_usd: estimateUsd,
      resets_at: null,
      message: `this strike could cost up to ${usd(estimateUsd)}, over the covenant's max_usd_per_strike of ${usd(perStrike)}`,
    };
  }
  const daily = contract.cost.budget_usd_per_day;
  if (daily !== undefined) {
    const committed = spend.spentToday + spend.accrued + spend.reserved;
    if (committed + estimateUsd > daily) {
      const resetsAt = new Date(budgetDay(now).resetsAt).toISOString();
      return {
        type: "budget_exhausted",
        budget: "budget_usd_per_day",
        limit_usd: daily,
        spent_usd: spend.spentToday + spend.accrued,
        requested_usd: estimateUsd,
        resets_at: resetsAt,
        message: `daily budget of ${usd(daily)} would be passed: ${usd(spend.spentToday + spend.accrued)} spent, ${usd(spend.reserved)} reserved by running strikes, this one needs up to ${usd(estimateUsd)}; resets at ${resetsAt}`,
      };
    }
  }
  return null;
}

/**
 * Whether a covenant must not place strikes on pools it cannot price: it has a cost limit, and
 * may use pools (an empty fallback means any pool; a list of only `local` names none).
 */
export function needsPoolPrices(c: CovenantContract): boolean {
  const limited = c.cost.budget_usd_per_day !== undefined || c.cost.max_usd_per_strike !== undefined;
  return limited && (c.fallback.length === 0 || c.fallback.some((t) => t !== "local"));
}
