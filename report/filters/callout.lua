--[[
callout.lua: warning boxes and compact tables in typst output.

A fenced div with the class `warning` (`::: {.warning}`) becomes, in typst, a
framed and shaded block:

    #block(width: 100%, fill: ..., stroke: ..., inset: ..., radius: ...)[
    ...the div's blocks...
    ]

The frame is on all four sides, so the box reads the same in left-to-right
and right-to-left text.  A div with the class `compact` (a wide table) is set
in a smaller size: `#[#set text(size: 0.86em) ...]`.  HTML keeps the divs and
their classes (styles.css styles them).  Works with plain pandoc
(`--lua-filter`) and with Quarto (`filters:`).
]]

local function is_typst()
  return FORMAT ~= nil and FORMAT:match("typst") ~= nil
end

local BOX = '#block(width: 100%, breakable: true, fill: rgb("#fdf1e7"), '
  .. 'stroke: 0.9pt + rgb("#b54708"), inset: (x: 9pt, y: 7pt), radius: 2pt, '
  .. 'above: 1.1em, below: 1.1em)['

local COMPACT = "#[#set text(size: 0.86em)"

function Div(el)
  if not is_typst() then
    return nil
  end
  local opening
  if el.classes:includes("warning") then
    opening = BOX
  elseif el.classes:includes("compact") then
    opening = COMPACT
  else
    return nil
  end
  local blocks = { pandoc.RawBlock("typst", opening) }
  for _, block in ipairs(el.content) do
    table.insert(blocks, block)
  end
  table.insert(blocks, pandoc.RawBlock("typst", "]"))
  return blocks
end
