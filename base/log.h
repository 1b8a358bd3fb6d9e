/* base/log: one-line log records on stderr.
 *
 * Every record is "TIME LEVEL message".  Never pass a token, a secret or a
 * request's Authorization header to these functions: the log is for
 * operators, and operators' logs leak.
 */
#ifndef PL_LOG_H
#define PL_LOG_H

enum pl_log_level { PL_LOG_DEBUG, PL_LOG_INFO, PL_LOG_WARN, PL_LOG_ERROR };

void pl_log_set_level(enum pl_log_level min);
void pl_log(enum pl_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) pl_log(PL_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) pl_log(PL_LOG_INFO, __VA_ARGS__)
#define log_warn(...) pl_log(PL_LOG_WARN, __VA_ARGS__)
#define log_error(...) pl_log(PL_LOG_ERROR, __VA_ARGS__)

#endif
