// Point buy, as the api checks it (src/hero_foundry/rules/abilities.py): scores 8-15 before
// racial bonuses, 27 points, costs below. The api does not publish these numbers, so they are
// mirrored here; a test reads abilities.py and fails when the two differ.
import type { Ability } from "../api/types";

export const POINT_BUY_BUDGET = 27;
export const POINT_BUY_COST: Readonly<Record<number, number>> = {
  8: 0,
  9: 1,
  10: 2,
  11: 3,
  12: 4,
  13: 5,
  14: 7,
  15: 9,
};
export const POINT_BUY_MIN = 8;
export const POINT_BUY_MAX = 15;
export const STANDARD_ARRAY: readonly number[] = [15, 14, 13, 12, 10, 8];

/** The ability modifier: floor((score - 10) / 2). */
export function modifier(score: number): number {
  return Math.floor((score - 10) / 2);
}

export function formatModifier(value: number): string {
  return value >= 0 ? `+${value}` : `−${Math.abs(value)}`;
}

/** Points spent on these scores; `null` when a score is outside 8-15 (not buyable). */
export function pointBuyCost(scores: Partial<Record<Ability, number>>): number | null {
  let total = 0;
  for (const value of Object.values(scores)) {
    if (value === undefined) continue;
    const cost = POINT_BUY_COST[value];
    if (cost === undefined) return null;
    total += cost;
  }
  return total;
}

export interface Budget {
  spent: number | null;
  remaining: number | null;
  over: boolean;
}

export function budget(scores: Partial<Record<Ability, number>>): Budget {
  const spent = pointBuyCost(scores);
  if (spent === null) return { spent: null, remaining: null, over: true };
  return { spent, remaining: POINT_BUY_BUDGET - spent, over: spent > POINT_BUY_BUDGET };
}

/** Whether one more point can go into a score now (in range and affordable). */
export function canRaise(scores: Partial<Record<Ability, number>>, ability: Ability): boolean {
  const current = scores[ability] ?? POINT_BUY_MIN;
  if (current >= POINT_BUY_MAX) return false;
  const spent = pointBuyCost(scores);
  if (spent === null) return false;
  const step = POINT_BUY_COST[current + 1] - POINT_BUY_COST[current];
  return spent + step <= POINT_BUY_BUDGET;
}

export function canLower(scores: Partial<Record<Ability, number>>, ability: Ability): boolean {
  return (scores[ability] ?? POINT_BUY_MIN) > POINT_BUY_MIN;
}
