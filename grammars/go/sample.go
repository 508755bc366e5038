package shop

import (
	"fmt"
	"time"
)

// MaxRetries is how often an order is tried.
const MaxRetries = 3

var defaultClock = time.Now

type Order struct {
	ID    string
	Items []Item
}

type Submitter interface {
	Submit(o *Order) error
}

type Item = string

func NewOrder(id string) *Order {
	return &Order{ID: id}
}

func (o *Order) Submit(s Submitter) error {
	if err := s.Submit(o); err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	return nil
}

func (o Order) Count() int { return len(o.Items) }
