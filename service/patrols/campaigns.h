/* campaigns.h - campaigns of joint patrols and their figures (campaigns.c: POST/GET
 * /api/v1/campaigns, GET /api/v1/campaigns/{id}/summary, handlers in handlers.h) and THE definition of the patrol figures, shared
 * with the bureau's statistics (service/stats/patrol_figures.c). */
#ifndef PATROLD_CAMPAIGNS_H
#define PATROLD_CAMPAIGNS_H

/* A scored window `s` (patrol_scored_windows) is a patrol (巡查次数) when a unit of its plan visited
 * one of its targets in it. */
#define PATROL_WINDOW_VISITED_SQL                                                                  \
    " EXISTS (SELECT 1 FROM patrol_visits v WHERE v.plan_id = s.plan_id AND v.patrol ="            \
    " s.starts_at)"

/* After a CTE `win` (plan_id, starts_at, ends_at, ...: the patrols counted, PATROL_WINDOW_VISITED_SQL),
 * the CTEs took (the units that visited, per patrol), staff, places and `pw`: each row of win with
 * staff_turns (出动人次: the distinct members on shift on the units that took part, once per
 * patrol) and places (巡查点: the distinct targets visited in it). Hours and km are the window's
 * own (active_min, km of patrol_scored_windows: the group's, counted once). */
#define PATROL_FIGURES_CTES_SQL                                                                     \
    " took AS (SELECT DISTINCT w.plan_id, w.starts_at, u.unit_id FROM win w JOIN patrol_visits v"   \
    " ON v.plan_id = w.plan_id AND v.patrol = w.starts_at CROSS JOIN LATERAL unnest(v.unit_ids)"    \
    " AS u(unit_id)),"                                                                              \
    " staff AS (SELECT w.plan_id, w.starts_at, count(DISTINCT sm.user_id) AS n FROM win w JOIN"     \
    " took t ON t.plan_id = w.plan_id AND t.starts_at = w.starts_at JOIN shifts sh ON sh.unit_id =" \
    " t.unit_id AND sh.starts_at < w.ends_at AND sh.ends_at > w.starts_at JOIN shift_members sm ON" \
    " sm.shift_id = sh.id GROUP BY 1, 2),"                                                          \
    " places AS (SELECT v.plan_id, v.patrol AS starts_at, count(DISTINCT v.target_id) AS n FROM"    \
    " patrol_visits v JOIN win w ON w.plan_id = v.plan_id AND w.starts_at = v.patrol GROUP BY 1,"   \
    " 2),"                                                                                          \
    " pw AS (SELECT w.*, coalesce(st.n, 0) AS staff_turns, coalesce(pl.n, 0) AS places FROM win w"  \
    " LEFT JOIN staff st ON st.plan_id = w.plan_id AND st.starts_at = w.starts_at LEFT JOIN"        \
    " places pl ON pl.plan_id = w.plan_id AND pl.starts_at = w.starts_at)"

#endif
