// The monitor core's public API. Pure functions of numbers: nothing here knows about Cloudflare, D1 or tfjs.
//
// Per closed window the cron calls judgeWindow (verdict + the version's next MonitorState), runs the model's probes
// only when the verdict is flagged, then explain() and advanceIncident(); once per served version it reports a
// model defect (explainModelDefect, openModelDefect). backtest() does the same in memory.

export * from './backtest';
export * from './baseline';
export * from './binomial';
export * from './defect';
export * from './detector';
export * from './diagnosis';
export * from './distribution';
export * from './gamma';
export * from './incident';
export * from './packed-state';
export * from './reference';
export * from './remedies';
export * from './sequential';
export * from './window';
