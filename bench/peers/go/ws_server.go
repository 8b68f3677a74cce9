// bench/peers/go/ws_server.go: the Go peer of `cora serve` in the WebSocket benchmark,
// with gorilla/websocket 1.5 (Debian's golang-github-gorilla-websocket-dev), on one
// thread running Go code (GOMAXPROCS=1, set by bench/run.sh: the server gets one core,
// as a cora loop is one thread). The same two endpoints as `cora serve`:
//
//   - GET /ws echoes every message, text as text, binary as binary;
//   - GET /chat/ws?nick=NAME is a room: every text message of a member goes to all
//     members as {"type":"message","nick":NAME,"text":TEXT}; joins and leaves are
//     announced as {"type":"join"|"leave","nick":NAME,"members":N}.
//
// The room follows gorilla's chat example: one hub goroutine owns the member set and
// fans each message out to per-member send channels, each drained by that member's
// writer goroutine; a member whose channel is full is dropped (its channel closed), so
// the hub never waits. The channel holds 4096 messages, cora's queue depth (the
// example's 256 would drop members in the join storm of a thousand members). Two
// departures from the example, both in the peer's favour: each message is encoded
// once for all members (websocket.PreparedMessage, gorilla's broadcast idiom), and
// messages are not merged into one frame with newlines (the example's shortcut,
// which would change what members receive). No compression (the Upgrader's
// default), no pings (as the other servers here), messages up to 64 KiB (cora's
// limit for the room).
//
// Listens on 127.0.0.1 only (port 0: a free port the kernel picks), prints
// "listening <port>" once it accepts, runs until killed.
// Usage: ws_server [port]
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

const (
	sendDepth  = 4096
	maxMessage = 65536
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	CheckOrigin:     func(r *http.Request) bool { return true },
}

func echo(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered with an error
	}
	defer c.Close()
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, msg); err != nil {
			return
		}
	}
}

// ---- the room -------------------------------------------------------------------

type notice struct {
	Type    string  `json:"type"`
	Nick    string  `json:"nick"`
	Text    *string `json:"text,omitempty"`
	Members *int    `json:"members,omitempty"`
}

type client struct {
	hub  *hub
	conn *websocket.Conn
	nick string
	send chan *websocket.PreparedMessage
}

type hub struct {
	clients    map[*client]bool
	broadcast  chan []byte
	register   chan *client
	unregister chan *client
}

func (h *hub) fanout(data []byte) {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		return
	}
	for c := range h.clients {
		select {
		case c.send <- pm:
		default: // too slow: dropped
			close(c.send)
			delete(h.clients, c)
		}
	}
}

func announce(kind, nick string, members int) []byte {
	b, _ := json.Marshal(notice{Type: kind, Nick: nick, Members: &members})
	return b
}

func (h *hub) run() {
	for {
		select {
		case c := <-h.register:
			h.clients[c] = true
			h.fanout(announce("join", c.nick, len(h.clients)))
		case c := <-h.unregister:
			if _, ok := h.clients[c]; ok {
				delete(h.clients, c)
				close(c.send)
				h.fanout(announce("leave", c.nick, len(h.clients)))
			}
		case m := <-h.broadcast:
			h.fanout(m)
		}
	}
}

func (c *client) readPump() {
	defer func() {
		c.hub.unregister <- c
		c.conn.Close()
	}()
	c.conn.SetReadLimit(maxMessage)
	for {
		mt, msg, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		if mt != websocket.TextMessage {
			continue
		}
		text := string(msg)
		b, _ := json.Marshal(notice{Type: "message", Nick: c.nick, Text: &text})
		c.hub.broadcast <- b
	}
}

func (c *client) writePump() {
	defer c.conn.Close()
	for pm := range c.send {
		if err := c.conn.WritePreparedMessage(pm); err != nil {
			return
		}
	}
	// The hub closed the channel: left, or dropped for being too slow.
	c.conn.WriteMessage(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "too slow"))
}

var guests int64

func chat(h *hub) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		nick := r.URL.Query().Get("nick")
		if nick == "" || len(nick) > 32 {
			nick = "guest-" + strconv.FormatInt(atomic.AddInt64(&guests, 1), 10)
		}
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &client{hub: h, conn: conn, nick: nick, send: make(chan *websocket.PreparedMessage, sendDepth)}
		h.register <- c
		go c.writePump()
		go c.readPump()
	}
}

func main() {
	port := 0
	if len(os.Args) > 1 {
		p, err := strconv.Atoi(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "usage: ws_server [port]")
			os.Exit(2)
		}
		port = p
	}
	h := &hub{
		clients:    make(map[*client]bool),
		broadcast:  make(chan []byte),
		register:   make(chan *client),
		unregister: make(chan *client),
	}
	go h.run()
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", echo)
	mux.HandleFunc("/chat/ws", chat(h))
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "Go gorilla/websocket server, %s, GOMAXPROCS=%d\n", runtime.Version(),
		runtime.GOMAXPROCS(0))
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
