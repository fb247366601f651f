// The lyncproxy package for code: the lab inside a client's test suite (startLab), and the proxy on
// its own (loadConfig, startProxy). `lyncproxy` on the command line is the other door (cli/main.ts).
export { startLab, DEFAULT_LAB_CONFIG_FILE, type Lab, type LabUser, type StartLabOptions } from './api/lab.js'
export { loadConfig, startProxy, type Config, type LoadedConfig, type RunningProxy, type StartProxyOptions } from './api/proxy.js'
export type { FaultConfig } from './config/schema.js'
export { LyncProxyError, LyncProxyErrors } from './errors.js'
