/* audit-csv.c — the RFC 4180 reader and writer of segcam audit (audit-csv.h). */
#include "audit-csv.h"

#include "segcam.h"

#include <string.h>

GPtrArray *
segcam_csv_parse (const char *text, gsize length, const char *what, GArray **line_of,
                  GError **error)
{
  GPtrArray *records = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  GArray *lines = g_array_new (FALSE, FALSE, sizeof (int));
  GPtrArray *fields = g_ptr_array_new ();
  GString *field = g_string_new (NULL);
  int line = 1, record_line = 1;
  gsize i = 0;
  const char *problem = NULL;
  while (i < length && !problem)
    {
      /* One field, then what ends it. */
      if (text[i] == '"')
        {
          int quote_line = line;
          for (i++;; i++)
            {
              if (i >= length)
                {
                  problem = "a quoted field is never closed";
                  line = quote_line;
                  break;
                }
              if (text[i] == '"' && i + 1 < length && text[i + 1] == '"')
                g_string_append_c (field, '"'), i++;
              else if (text[i] == '"')
                {
                  i++;
                  break;
                }
              else
                {
                  line += text[i] == '\n';
                  g_string_append_c (field, text[i]);
                }
            }
          if (!problem && i < length && text[i] != ',' && text[i] != '\n' &&
              !(text[i] == '\r' && i + 1 < length && text[i + 1] == '\n'))
            problem = "text after a closing quote (a quote inside a field must be doubled)";
        }
      else
        while (i < length && text[i] != ',' && text[i] != '\n' &&
               !(text[i] == '\r' && i + 1 < length && text[i + 1] == '\n'))
          {
            if (text[i] == '"')
              problem = "a quote inside an unquoted field (quote the field and double it)";
            g_string_append_c (field, text[i++]);
          }
      if (problem)
        break;
      if (memchr (field->str, '\0', field->len))
        {
          problem = "a NUL byte";
          break;
        }
      g_ptr_array_add (fields, g_strdup (field->str));
      g_string_truncate (field, 0);
      if (i < length && text[i] == ',')
        {
          i++;
          if (i == length)
            g_ptr_array_add (fields, g_strdup (""));
          else
            continue;
        }
      else if (i < length)
        i += text[i] == '\r' ? 2 : 1;
      g_ptr_array_add (fields, NULL);
      g_ptr_array_add (records, g_ptr_array_free (fields, FALSE));
      g_array_append_val (lines, record_line);
      fields = g_ptr_array_new ();
      record_line = ++line;
    }
  g_string_free (field, TRUE);
  g_ptr_array_free (fields, TRUE);
  if (problem)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s, line %d: %s", what, line, problem);
      g_ptr_array_free (records, TRUE);
      g_array_free (lines, TRUE);
      return NULL;
    }
  if (line_of)
    *line_of = lines;
  else
    g_array_free (lines, TRUE);
  return records;
}

void
segcam_csv_append_record (GString *out, const char *const *fields, int n_fields)
{
  for (int f = 0; f < n_fields; f++)
    {
      const char *v = fields[f] ? fields[f] : "";
      if (f)
        g_string_append_c (out, ',');
      if (strpbrk (v, ",\"\r\n") == NULL)
        {
          g_string_append (out, v);
          continue;
        }
      g_string_append_c (out, '"');
      for (const char *c = v; *c; c++)
        {
          if (*c == '"')
            g_string_append_c (out, '"');
          g_string_append_c (out, *c);
        }
      g_string_append_c (out, '"');
    }
  g_string_append_c (out, '\n');
}
