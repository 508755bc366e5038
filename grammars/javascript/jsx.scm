; JSX (JavaScript and TSX): a component used as <Name ...> refers to its definition.
; Lower-case names are HTML elements, not components.

((jsx_opening_element
  name: (identifier) @name) @reference.class
  (#match? @name "^[A-Z]"))

((jsx_self_closing_element
  name: (identifier) @name) @reference.class
  (#match? @name "^[A-Z]"))
