/**
 * `breakwater/dashboard`: a live web page of every breaker and rate limiter, served by the package (no
 * front-end framework): `dashboardHandler` to mount in an app, `runDashboard` to serve it
 * on its own port.
 *
 * @module breakwater/dashboard
 */
export { dashboardHandler, CONTROL_HEADER, type DashboardOptions, type DashboardHandler } from "./handler.js";
export { runDashboard, type RunDashboardOptions, type RunningDashboard } from "./run.js";
export type { DashboardSnapshot, DashboardSource, BreakerView, LimiterView } from "./snapshot.js";
export type { RateHistoryView } from "./history.js";
