; JavaScript only: `class A extends B` (TypeScript wraps the base class in an extends_clause).

(class_heritage
  [
    (identifier) @name
    (member_expression
      property: (property_identifier) @name)
  ] @reference.base)
