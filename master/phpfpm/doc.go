// Package phpfpm runs the managed php-fpm pools of the fluxheim master
// ([vhosts.php.fpm] mode = "managed"; spec §2.14, process model §7.8).
//
// # Processes
//
// Each pool runs as one php-fpm instance: `php-fpm -F -y <conf> -p <dir>`
// (foreground, daemonize = no), started from the validated binary held
// open (/proc/self/fd/N), in its own process group, with an environment of
// only FixedPATH and FPM_SOCKETS. php-fpm's master runs as the fluxheim
// master's user; its workers switch to the pool's user/group (required
// when the master is root). Stopping always ends with SIGKILL to the
// whole process group, so no worker (and nothing a script started) is
// left behind.
//
// # Sockets
//
// The manager creates each pool's unix socket itself (mode before bind,
// then chmod/chown; a stale file is replaced, a live one is an error),
// registers it in the FDRegistry under RegistryKey(path), and passes it to
// php-fpm as fd 3 with FPM_SOCKETS=<key>=3. php-fpm matches the key
// against the pool's listen value and, on exit, unlinks the path named by
// that key, so the key is an alias inside the instance directory, never
// the real socket path: an old instance stopping must not delete the
// socket file its successor serves. Each instance must show the inherited
// socket among its fds before it counts as ready. The backlog, mode and
// owner of a socket change in place; connections that arrive while no
// instance accepts (a crash restart) wait in the backlog.
//
// # Reload (Reconcile)
//
// Unchanged pools (Equal) keep their instance and pid. A changed pool gets
// a new instance on the same socket; once it logged "ready to handle
// connections", holds the socket and the path accepts, the old instance
// gets SIGQUIT: its workers finish their requests while the new ones
// already accept, so no request fails. php-fpm's process_control_timeout
// is set to the pool's StopGrace (php-fpm's default of 0 would turn
// SIGQUIT into an immediate SIGTERM of busy workers); the group is killed
// after StopGrace. Removed pools stop the same way after RetireDelay; their
// sockets are then shut down (the registry's copy too) and unlinked. Any
// failure leaves the running instances alone.
//
// # Binary upgrade
//
// The new master calls NewManager and Reconcile with the same pools. It
// finds each socket in the FDRegistry (tableflip's Fds, populated from the
// old master), binds nothing, and starts its own instances on the shared
// sockets, next to the old master's. When it is ready, the old master
// calls StopGraceful in its handover path: its instances finish their
// requests and exit, leaving the socket and its path to the new ones.
// Instance directories are per master and per instance, so both masters
// share the state directory. If the new master fails before it is ready,
// it must stop its instances with StopGraceful too: they already accept
// on the shared sockets.
//
// # Crashes
//
// When a php-fpm master dies on its own, its orphaned workers get SIGQUIT
// (and SIGKILL after StopGrace) and a new instance starts on the same
// socket after 100 ms, doubling to 30 s for repeated crashes (reset after
// 60 s of health); every crash and failed restart is logged at error
// level. If the fluxheim master itself dies, its php-fpm instances keep
// running; the next manager (NewManager, and every Reconcile) stops
// instances whose master is gone before it takes their sockets.
//
// # Files
//
// stateDir (0700) holds one directory per instance (0700,
// "i-<master pid>-<seq>-<slug>") with php-fpm.conf (0600), php-fpm.pid and
// php-fpm.log. The log (error_log, slowlog and php-fpm's stdout/stderr) is
// followed and forwarded to the manager's logger at php-fpm's levels and
// truncated once it exceeds 16 MiB; the directory is removed when the
// instance exits. ReopenLogs sends SIGUSR1: php-fpm reopens its error log
// and keeps its workers (php-fpm 8.2; verified by the integration tests).
// php-fpm's own reload (SIGUSR2) is never used: it stops every worker
// before re-executing.
package phpfpm
