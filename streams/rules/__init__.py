"""Outreach rules: pure functions over (customer state, event, time) that raise OutreachSignals.

`streams.rules.engine` runs them (`evaluate` after each event, `tick` on a wall-clock timer,
`step` for both feature update and rules); `streams.rules.builtin` holds the rules;
`streams.rules.config.RulesConfig` declares thresholds, cooldowns, severity and actions.
"""
