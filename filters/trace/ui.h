/* ui.h: the built-in trace viewer's page (filters/trace/ui/index.html),
 * embedded in the binary at build time. CMakeLists.txt turns the file into a
 * generated C source in the build directory, so the admin listener can serve
 * "/" with no file to install and no path to configure. Read-only, any thread.
 */
#ifndef TG_TRACE_UI_H
#define TG_TRACE_UI_H

#include <stddef.h>

/* The bytes of index.html, exactly as in the source tree: UTF-8, not
 * NUL-terminated; <trace_ui_index_html_len> of them. Serve as
 * "text/html; charset=utf-8". */
extern const unsigned char trace_ui_index_html[];
extern const size_t trace_ui_index_html_len;

#endif
