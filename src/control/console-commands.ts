// Commands typed at the console, for systems without SIGHUP and SIGTERM (Windows, where Ctrl-C is
// the only signal a console program gets): `reload` takes the path SIGHUP takes, `stop` the path
// SIGTERM takes. Read only when asked (`--console`, or on Windows when the console is a terminal):
// a process in the background of a Unix shell that reads its terminal is stopped by SIGTTIN.
import readline from 'node:readline'
import type { Logger } from '../observe/logger.js'

export const CONSOLE_COMMANDS = 'reload (read the config file again), stop (finish requests in flight, then exit), help'

export interface ConsoleActions {
  reload: () => void
  stop: () => void
}

// The replies go to stderr, not the log: with --log-file or a quiet level the person typing would
// see nothing. The input does not keep the process alive (unref): a start that fails after this is
// set up still exits with its status.
export function readConsoleCommands (input: NodeJS.ReadableStream, actions: ConsoleActions, logger: Logger): void {
  const lines = readline.createInterface({ input, terminal: false })
  ;(input as { unref?: () => void }).unref?.()
  const say = (text: string): void => { process.stderr.write(`console: ${text}\n`) }
  lines.on('line', (line) => {
    const command = line.trim().toLowerCase()
    if (command === '') return
    logger.info(`console: ${command}`)
    if (command === 'reload') actions.reload()
    else if (command === 'stop' || command === 'quit' || command === 'exit') actions.stop()
    else if (command === 'help') say(`the commands are: ${CONSOLE_COMMANDS}`)
    else say(`${command} is not a command; the commands are: ${CONSOLE_COMMANDS}`)
  })
  lines.on('close', () => { logger.info('console: standard input closed; signals and POST /api/reload still work') })
}

// Windows has no SIGHUP to send, so there the console is the one way to reload besides the admin
// API; elsewhere it would take the terminal from the shell, and signals do the job.
export function consoleByDefault (): boolean {
  return process.platform === 'win32' && process.stdin.isTTY
}
