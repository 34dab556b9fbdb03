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
	align := make(tw.Alignment, columns)
	for i := range align {
		align[i] = tw.AlignRight
	}
	align[0] = tw.AlignLeft
	return tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithAlignment(align),
	)
}
