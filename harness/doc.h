/* A document written once as Markdown and as self-contained HTML: headings, paragraphs, bullets,
 * tables and figures (the SVG inlined in the HTML, a click opening it full size). `code`,
 * **bold** and [links](#anchor) in the text become elements in the HTML. The report writes
 * report.md and report.html with it. */
#ifndef MX_DOC_H
#define MX_DOC_H

#include <stdbool.h>

#include "text.h"

typedef struct {
    mx_text md, html;
    bool in_list, in_table;
} mx_doc;

/* The HTML page's head (its <title>, the style) and <body>; first. */
void mx_doc_begin(mx_doc *d, const char *title);
/* Ends the document with a rule and the footer line (Markdown and HTML); last. */
void mx_doc_end(mx_doc *d, const char *footer);
/* Ends an open list or table. */
void mx_doc_close(mx_doc *d);
/* The anchor a heading gets (GitHub's rule: lower case, letters, digits, '-' and '_' kept,
 * spaces to '-', the rest dropped), as the HTML id and for [text](#anchor) links. */
void mx_doc_anchor(const char *heading, char *out, size_t size);
void mx_doc_heading(mx_doc *d, int level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void mx_doc_paragraph(mx_doc *d, const char *format, ...) __attribute__((format(printf, 2, 3)));
void mx_doc_bullet(mx_doc *d, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* A table: the header's cells, then each row's (mx_doc_row), separated by tabs. */
void mx_doc_table(mx_doc *d, const char *format, ...) __attribute__((format(printf, 2, 3)));
void mx_doc_row(mx_doc *d, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* base.png in the Markdown, base.svg (read from run_dir) inlined in the HTML. */
void mx_doc_figure(mx_doc *d, const char *run_dir, const char *base, const char *title);
void mx_doc_free(mx_doc *d);

#endif
