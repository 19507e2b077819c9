#ifndef RW_LOG_H
#define RW_LOG_H

/* Reports a refusal or failure the way runc does, so that dockerd shows it:
 * containerd-shim-runc-v2 reads the last {"level":"error","msg":...} line of
 * the --log file (runc's text form when --log-format text), since the
 * runtime's stderr alone is lost by Docker. Also written on stderr. */
void rw_report_error(const char *log_path, const char *log_format, const char *msg);

/* JSON string escaping for small one-line outputs. */
char *rw_json_quote(const char *s);

#endif
