--[[
rtl.lua: keep language-tagged divs (and the headings they open) in typst output.

Pandoc's typst writer turns `::: {lang=he dir=rtl}` into
`#block[#set text(lang: "he"); == Heading`, which typst reads as a line of
text, so the heading that opens the div is lost.  For typst output this filter
takes `lang` and `dir` off such a div and wraps its content in raw typst:

    #text(lang: "he", dir: rtl)[
    ...the div's blocks, headings included...
    ]

Inside a right-to-left div, inline code is set as a left-to-right box, so that
a version such as `2.14.1+cu130` or a path keeps its order.

Left-to-right runs (typst only).  The Hebrew template starts a signed number,
or a "mean ± std" pair, with a left-to-right mark (U+200E) and ends the pair with
a right-to-left mark (U+200F), which is what a browser needs.  Typst draws the
marks correctly but folds each into the glyph that follows it in the PDF's text
layer, so every later copy of that digit reads back with an invisible mark; the
filter therefore replaces each marked run with a left-to-right box:

    #box(text(dir: ltr, "−0.0412"));

Other formats are left alone (HTML keeps lang/dir as attributes and the marks).
Works with plain pandoc (`--lua-filter`) and with Quarto (`filters:`).
]]

local LRM = utf8.char(0x200E)
local RLM = utf8.char(0x200F)
local MINUS = utf8.char(0x2212)
local PLUS_MINUS = utf8.char(0x00B1)

local function is_typst()
  return FORMAT ~= nil and FORMAT:match("typst") ~= nil
end

local function typst_string(text)
  local escaped = text:gsub("\\", "\\\\"):gsub('"', '\\"')
  return '"' .. escaped .. '"'
end

local function ltr_box(text)
  return pandoc.RawInline("typst", "#box(text(dir: ltr, " .. typst_string(text) .. "));")
end

-- The longest prefix of `text` made of digits and the punctuation of a number;
-- the prefix and the rest.
local function numeric_prefix(text)
  local last = 0
  for pos, code in utf8.codes(text) do
    local c = utf8.char(code)
    if c:match("^[%d%.,%%+e%-]$") or c == MINUS or c == PLUS_MINUS then
      last = pos + #c - 1
    else
      break
    end
  end
  return text:sub(1, last), text:sub(last + 1)
end

-- A run opened by a left-to-right mark in the Str `after` (the text after the
-- mark) at position i: the run's text, the index of its last element, and the
-- text left over after it.  The run ends at a right-to-left mark (in this Str
-- or in a later one, across spaces) or, without one, after the number.
local function marked_run(inlines, i, after)
  local a, b = after:find(RLM, 1, true)
  if a then
    return after:sub(1, a - 1), i, after:sub(b + 1)
  end
  local parts, j = { after }, i + 1
  while j <= #inlines and (inlines[j].t == "Str" or inlines[j].t == "Space") do
    if inlines[j].t == "Space" then
      table.insert(parts, " ")
    else
      local x, y = inlines[j].text:find(RLM, 1, true)
      if x then
        table.insert(parts, inlines[j].text:sub(1, x - 1))
        return table.concat(parts), j, inlines[j].text:sub(y + 1)
      end
      table.insert(parts, inlines[j].text)
    end
    j = j + 1
  end
  local number, rest = numeric_prefix(after)
  return number, i, rest
end

function Inlines(inlines)
  if not is_typst() then
    return nil
  end
  local out, changed, i = pandoc.Inlines {}, false, 1
  while i <= #inlines do
    local el = inlines[i]
    local s, e = nil, nil
    if el.t == "Str" then
      s, e = el.text:find(LRM, 1, true)
    end
    if s == nil then
      out:insert(el)
      i = i + 1
    else
      changed = true
      local before = el.text:sub(1, s - 1)
      local run, last, rest = marked_run(inlines, i, el.text:sub(e + 1))
      if before ~= "" then
        out:insert(pandoc.Str(before))
      end
      if run ~= "" then
        out:insert(ltr_box(run))
      end
      if rest ~= "" then
        out:insert(pandoc.Str(rest))
      end
      i = last + 1
    end
  end
  if changed then
    return out
  end
  return nil
end

-- "he-IL" -> "he", "IL"; anything unexpected -> nil
local function split_lang(tag)
  local lang, region = tag:match("^(%a%a%a?)[-_](%a%a)$")
  if lang then
    return lang:lower(), region:upper()
  end
  lang = tag:match("^(%a%a%a?)$")
  if lang then
    return lang:lower(), nil
  end
  return nil, nil
end

function Div(el)
  if not is_typst() then
    return nil
  end
  local tag = el.attributes["lang"]
  local dir = el.attributes["dir"]
  if tag == nil and dir == nil then
    return nil
  end

  local args = {}
  if tag ~= nil then
    local lang, region = split_lang(tag)
    if lang ~= nil then
      table.insert(args, string.format('lang: "%s"', lang))
      if region ~= nil then
        table.insert(args, string.format('region: "%s"', region))
      end
    end
  end
  if dir == "rtl" or dir == "ltr" then
    table.insert(args, "dir: " .. dir)
  end
  el.attributes["lang"] = nil
  el.attributes["dir"] = nil
  if #args == 0 then
    return el
  end

  local opening = "#text(" .. table.concat(args, ", ") .. ")["
  if dir == "rtl" then
    -- inline code keeps its own left-to-right order
    opening = opening .. "\n#show raw.where(block: false): it => box(text(dir: ltr, it))"
  end
  local blocks = { pandoc.RawBlock("typst", opening) }
  local has_other_attrs = el.identifier ~= "" or #el.classes > 0 or #el.attributes > 0
  if has_other_attrs then
    table.insert(blocks, el)
  else
    for _, block in ipairs(el.content) do
      table.insert(blocks, block)
    end
  end
  table.insert(blocks, pandoc.RawBlock("typst", "]"))
  return blocks
end
