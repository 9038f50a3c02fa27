/* Markdown and HTML from one set of calls (doc.h). */
#include "doc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HTML text with & < > " escaped, `code` spans and **bold** turned into elements. */
/* A Markdown link [text](target) starting at s: the lengths of text and target, or false. */
static bool link_at(const char *s, size_t *text_length, size_t *target_length) {
    const char *close = s[0] == '[' ? strchr(s, ']') : NULL;
    const char *end = close && close[1] == '(' ? strchr(close + 2, ')') : NULL;
    if (!end || memchr(close + 2, ' ', (size_t)(end - close - 2))) return false;
    *text_length = (size_t)(close - s - 1);
    *target_length = (size_t)(end - close - 2);
    return true;
}

static void html_inline(mx_text *html, const char *s) {
    bool code = false, bold = false;
    for (; *s; s++) {
        size_t text_length, target_length;
        if (!code && link_at(s, &text_length, &target_length)) {
            mx_text_printf(html, "<a href=\"%.*s\">", (int)target_length, s + text_length + 3);
            mx_text_append(html, s + 1, text_length);
            mx_text_printf(html, "</a>");
            s += text_length + target_length + 3;
        } else if (*s == '`') {
            mx_text_printf(html, code ? "</code>" : "<code>");
            code = !code;
        } else if (!code && s[0] == '*' && s[1] == '*') {
            mx_text_printf(html, bold ? "</strong>" : "<strong>");
            bold = !bold;
            s++;
        } else if (*s == '&' || *s == '<' || *s == '>' || *s == '"') {
            mx_text_printf(html, "%s",
                           *s == '&'   ? "&amp;"
                           : *s == '<' ? "&lt;"
                           : *s == '>' ? "&gt;"
                                       : "&quot;");
        } else {
            mx_text_append(html, s, 1);
        }
    }
    if (code) mx_text_printf(html, "</code>");
    if (bold) mx_text_printf(html, "</strong>");
}

void mx_doc_close(mx_doc *d) {
    if (d->in_list) mx_text_printf(&d->html, "</ul>\n"), mx_text_printf(&d->md, "\n");
    if (d->in_table) mx_text_printf(&d->html, "</tbody></table>\n"), mx_text_printf(&d->md, "\n");
    d->in_list = d->in_table = false;
}

static void doc_vformat(mx_text *out, const char *format, va_list args) {
    mx_text_vprintf(out, format, args);
    for (char *c = out->data; c && *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' '; /* one block stays one line */
}

#define DOC_FORMAT(line, format)                                                                   \
    mx_text line = {0};                                                                            \
    do {                                                                                           \
        va_list args;                                                                              \
        va_start(args, format);                                                                    \
        doc_vformat(&line, format, args);                                                          \
        va_end(args);                                                                              \
    } while (0)

void mx_doc_anchor(const char *heading, char *out, size_t size) {
    size_t at = 0;
    for (const unsigned char *c = (const unsigned char *)heading; *c && at + 1 < size; c++) {
        if (isalnum(*c) || *c == '-' || *c == '_')
            out[at++] = (char)tolower(*c);
        else if (*c == ' ')
            out[at++] = '-';
    }
    out[at] = '\0';
}

void mx_doc_heading(mx_doc *d, int level, const char *format, ...) {
    DOC_FORMAT(line, format);
    mx_doc_close(d);
    mx_text_printf(&d->md, "%.*s %s\n\n", level, "######", mx_text_get(&line));
    char anchor[256];
    mx_doc_anchor(mx_text_get(&line), anchor, sizeof anchor);
    mx_text_printf(&d->html, "<h%d id=\"%s\">", level, anchor);
    html_inline(&d->html, mx_text_get(&line));
    mx_text_printf(&d->html, "</h%d>\n", level);
    mx_text_free(&line);
}

void mx_doc_paragraph(mx_doc *d, const char *format, ...) {
    DOC_FORMAT(line, format);
    mx_doc_close(d);
    mx_text_printf(&d->md, "%s\n\n", mx_text_get(&line));
    mx_text_printf(&d->html, "<p>");
    html_inline(&d->html, mx_text_get(&line));
    mx_text_printf(&d->html, "</p>\n");
    mx_text_free(&line);
}

void mx_doc_bullet(mx_doc *d, const char *format, ...) {
    DOC_FORMAT(line, format);
    if (!d->in_list) mx_doc_close(d), mx_text_printf(&d->html, "<ul>\n");
    d->in_list = true;
    mx_text_printf(&d->md, "- %s\n", mx_text_get(&line));
    mx_text_printf(&d->html, "<li>");
    html_inline(&d->html, mx_text_get(&line));
    mx_text_printf(&d->html, "</li>\n");
    mx_text_free(&line);
}

/* A table row: cells separated by tabs. */
static void table_cells(mx_doc *d, const char *cells, bool header) {
    mx_text_printf(&d->md, "|");
    mx_text_printf(&d->html, "<tr>");
    for (const char *cell = cells;;) {
        const char *end = strchr(cell, '\t');
        size_t length = end ? (size_t)(end - cell) : strlen(cell);
        mx_text one = {0};
        mx_text_append(&one, cell, length);
        mx_text_printf(&d->md, " ");
        for (const char *c = mx_text_get(&one); *c; c++)
            mx_text_append(&d->md, *c == '|' ? "\\|" : c, *c == '|' ? 2 : 1);
        mx_text_printf(&d->md, " |");
        const char *tag = header ? "th" : "td";
        const char *mark = strcmp(mx_text_get(&one), "fail") == 0   ? " class=\"fail\""
                           : strcmp(mx_text_get(&one), "pass") == 0 ? " class=\"pass\""
                                                                    : "";
        mx_text_printf(&d->html, "<%s%s>", tag, mark);
        html_inline(&d->html, mx_text_get(&one));
        mx_text_printf(&d->html, "</%s>", tag);
        mx_text_free(&one);
        if (!end) break;
        cell = end + 1;
    }
    mx_text_printf(&d->md, "\n");
    mx_text_printf(&d->html, "</tr>\n");
}

void mx_doc_table(mx_doc *d, const char *format, ...) {
    DOC_FORMAT(line, format);
    mx_doc_close(d);
    mx_text_printf(&d->html, "<table><thead>\n");
    table_cells(d, mx_text_get(&line), true);
    mx_text_printf(&d->html, "</thead><tbody>\n");
    mx_text_printf(&d->md, "|---|");
    for (const char *c = mx_text_get(&line); (c = strchr(c, '\t')) != NULL; c++)
        mx_text_printf(&d->md, "---|");
    mx_text_printf(&d->md, "\n");
    d->in_table = true;
    mx_text_free(&line);
}

void mx_doc_row(mx_doc *d, const char *format, ...) {
    DOC_FORMAT(line, format);
    table_cells(d, mx_text_get(&line), false);
    mx_text_free(&line);
}

/* A drawn plot: the PNG (and a link to the SVG) in markdown, the SVG itself in HTML. */
void mx_doc_figure(mx_doc *d, const char *run_dir, const char *base, const char *title) {
    mx_doc_close(d);
    mx_text_printf(&d->md, "![%s](%s.png)\n\n[SVG](%s.svg)\n\n", title, base, base);
    mx_text path = {0};
    mx_text_printf(&path, "%s/%s.svg", run_dir, base);
    char why[256];
    char *svg = mx_read_whole_file(mx_text_get(&path), NULL, why, sizeof why);
    const char *root = svg ? strstr(svg, "<svg") : NULL;
    mx_text_printf(&d->html, "<figure>\n");
    if (root) /* a click opens the SVG on its own, at full size */
        mx_text_printf(&d->html, "<a href=\"%s.svg\" title=\"open full size\">%s</a>", base, root);
    else
        mx_text_printf(&d->html, "<p>%s.svg could not be read</p>", base);
    mx_text_printf(&d->html, "\n<figcaption>");
    html_inline(&d->html, title);
    mx_text_printf(&d->html, "</figcaption></figure>\n");
    free(svg);
    mx_text_free(&path);
}

void mx_doc_free(mx_doc *d) {
    mx_text_free(&d->md);
    mx_text_free(&d->html);
}

void mx_doc_begin(mx_doc *d, const char *title) {
    mx_text_printf(&d->html,
                   "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<title>");
    html_inline(&d->html, title);
    mx_text_printf(
        &d->html,
        "</title>\n<style>\nbody{font-family:sans-serif;max-width:1500px;margin:1em "
        "auto;padding:0 1em;color:#222}\ntable{border-collapse:collapse;margin:0.5em 0}\n"
        "th,td{border:1px solid #bbb;padding:2px 8px;text-align:left;vertical-align:top}\n"
        "th{background:#eee}\ntd.pass{color:#070}\ntd.fail{color:#b00;font-weight:bold}\n"
        "code{background:#f3f3f3;padding:0 2px}\nfigure{margin:1em 0}\n"
        "figure svg{width:100%%;height:auto;border:1px solid #ddd}\n</style>\n</head>\n"
        "<body>\n");
}

void mx_doc_end(mx_doc *d, const char *footer) {
    mx_doc_close(d);
    mx_text_printf(&d->md, "---\n%s\n", footer);
    mx_text_printf(&d->html, "<hr>\n<p>");
    html_inline(&d->html, footer);
    mx_text_printf(&d->html, "</p>\n</body>\n</html>\n");
}
