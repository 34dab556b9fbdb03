package report

import (
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// newTable returns a plain ASCII table: it renders the same in a terminal,
// a CI log and a golden file, with no colour and no box-drawing characters.
// Headers are printed as given (tablewriter would upper-case them), the
// first column is left-aligned and the rest, numbers, right-aligned.
func newTable(w io.Writer, columns int) *tablewriter.Table {
	return newStyledTable(w, columns, false)
}

// newMarkdownTable is newTable as a GitHub-flavoured Markdown table, for
// PR comments and job summaries.
func newMarkdownTable(w io.Writer, columns int) *tablewriter.Table {
	return newStyledTable(w, columns, true)
}

func newStyledTable(w io.Writer, columns int, markdown bool) *tablewriter.Table {
	align := make(tw.Alignment, columns)
	for i := range align {
		align[i] = tw.AlignRight
	}
	align[0] = tw.AlignLeft
	var r tw.Renderer = renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)})
	if markdown {
		r = renderer.NewMarkdown()
	}
	return tablewriter.NewTable(w,
		tablewriter.WithRenderer(r),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithAlignment(align),
	)
}

// row is one table row of already formatted cells.
type row []string

// render writes a header and rows as an ASCII or Markdown table.
func render(w io.Writer, markdown bool, header row, rows []row) error {
	t := newStyledTable(w, len(header), markdown)
	t.Header(toAny(header)...)
	for _, r := range rows {
		if err := t.Append(toAny(r)...); err != nil {
			return err
		}
	}
	return t.Render()
}

func toAny(r row) []any {
	out := make([]any, len(r))
	for i, c := range r {
		out[i] = c
	}
	return out
}
